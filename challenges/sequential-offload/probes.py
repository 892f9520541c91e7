"""Trusted helpers for sequential-offload. Each runs with ``solution`` = the candidate's module (in the worker) or
ORACLE (in the grader). Both sides build the same tiny seeded models, watch their leaves, hand the models to
``solution`` and call them; what comes back is the outputs and the log of moves and calls.

A leaf is a module with parameters or buffers of its own and no children. The CPU grader has one device, so the
execution device is EXECUTION_DEVICE, "cpu:0": the same memory as "cpu" but a distinct device string. A leaf's
place is the device its last ``.to`` (its own or a parent's) named; the probe wraps the ``.to`` of every module and
logs a move of each leaf whose place changes. Calls are logged by a forward hook the probe registers first: it runs
after the leaf's forward, before any hook registered later, and records where the leaf was then.

The peak memory is measured in the grader, from the log and its own knowledge of the leaves' sizes: the largest
sum of bytes of the leaves (or, for whole-model offload, the components) on the execution device at once."""

from types import SimpleNamespace

import torch

from pytest_diffchallenge import recipes

OFFLOAD_DEVICE = "cpu"
EXECUTION_DEVICE = "cpu:0"
WIDTH = 6
LATENTS = (1, 4, 8, 8)
TEXT_EMBEDS = (1, 7, 32)


def leaves(module):
    """(qualified name, leaf) for every module under ``module`` with tensors of its own and no children."""
    return [(name, sub) for name, sub in module.named_modules()
            if next(sub.children(), None) is None
            and (next(sub.parameters(recurse=False), None) is not None
                 or next(sub.buffers(recurse=False), None) is not None)]


def _sequential_offload(module, execution_device):
    """accelerate's cpu_offload with AlignDevicesHook(offload=True), with whole leaves moved by their ``.to``."""
    def onload(leaf, args):
        leaf.to(execution_device)  # returns None: a hook's return value would replace the args or the output

    def offload(leaf, args, output):
        leaf.to(OFFLOAD_DEVICE)

    for _, leaf in leaves(module):
        leaf.to(OFFLOAD_DEVICE)
        leaf.register_forward_pre_hook(onload)
        leaf.register_forward_hook(offload)
    return module


ORACLE = SimpleNamespace(sequential_offload=_sequential_offload)


class MoveLog:
    """Where each watched unit (a leaf, or a whole component) is, and the moves and calls in order, as strings."""

    def __init__(self):
        self.places, self.events = {}, []

    def watch(self, root, prefix="", place=OFFLOAD_DEVICE, units=leaves):
        """Watches ``units(root)``, named ``prefix`` + their name. The ``.to`` of every module of ``root`` is
        wrapped, so moving a parent moves (and logs) each watched unit under it."""
        named_units = [(prefix + name, unit) for name, unit in units(root)]
        for name, unit in named_units:
            self.places[name] = place
            unit.register_forward_hook(lambda unit, args, output, name=name: self.events.append(
                f"call {name} on {self.places[name]}"))
        for module in root.modules():
            inside = {id(sub) for sub in module.modules()}
            below = [name for name, unit in named_units if id(unit) in inside]
            if below:
                self._wrap_to(module, below)

    def _wrap_to(self, module, names):
        move = module.to

        def to(*args, **kwargs):
            device = torch._C._nn._parse_to(*args, **kwargs)[0]
            for name in names:
                if device is not None and str(device) != self.places[name]:
                    self.places[name] = str(device)
                    self.events.append(f"move {name} to {device}")
            return move(*args, **kwargs)

        module.to = to  # an instance attribute: nn.Module keeps plain functions in __dict__


class Scale(torch.nn.Module):
    """A leaf with a buffer and no parameters."""

    def __init__(self, width):
        super().__init__()
        self.register_buffer("scale", torch.rand(width) + 0.5)

    def forward(self, x):
        return x * self.scale


class Block(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.act = torch.nn.SiLU()  # no tensors: never moved
        self.proj = torch.nn.Linear(width, width)

    def forward(self, x):
        return x + self.proj(self.act(self.norm(x)))


class TinyNet(torch.nn.Module):
    """Nested leaves: ``embed`` is called twice per forward, ``unused`` never."""

    def __init__(self, width):
        super().__init__()
        self.embed = torch.nn.Linear(width, width)
        self.blocks = torch.nn.Sequential(Block(width), Block(width))
        self.scale = Scale(width)
        self.unused = torch.nn.Linear(width, 1)

    def forward(self, x):
        return self.embed(self.scale(self.blocks(self.embed(x))))


def net_offload(solution, model_seed, inputs, arrive_on=OFFLOAD_DEVICE):
    """``sequential_offload`` on a TinyNet whose leaves arrive on ``arrive_on``, then one call per row of
    ``inputs``."""
    torch.manual_seed(model_seed)
    net, log = TinyNet(inputs.shape[-1]), MoveLog()
    net.to(arrive_on)
    log.watch(net, place=arrive_on)
    returned_itself = solution.sequential_offload(net, EXECUTION_DEVICE) is net
    log.events.append("setup done")
    with torch.no_grad():
        outputs = torch.stack([net(row) for row in inputs])
    return {"outputs": outputs, "returned_itself": returned_itself, "events": log.events}


class TinyPipeline:
    """The denoising loop and decoding of a Stable Diffusion-shaped pipeline of tiny seeded models."""

    components = ("unet", "decoder")

    def __init__(self, seed):
        self.unet = recipes.tiny_unet(seed)
        self.decoder = recipes.tiny_vae(seed + 1).decoder.eval()

    @torch.no_grad()
    def __call__(self, latents, text_embeds, timesteps):
        for timestep in timesteps:
            latents = latents - 0.1 * self.unet(latents, timestep, text_embeds).sample
        return self.decoder(latents)


def pipeline_offload(solution, model_seed, latents, text_embeds, timesteps):
    """``sequential_offload`` on each component of a TinyPipeline, one pipeline call. ``changed_by_offload``: how
    far the image is from that of an identical pipeline without offload, in the same process."""
    plain_image = TinyPipeline(model_seed)(latents, text_embeds, timesteps)
    pipeline, log = TinyPipeline(model_seed), MoveLog()
    for component in pipeline.components:
        log.watch(getattr(pipeline, component), prefix=f"{component}.")
    for component in pipeline.components:
        solution.sequential_offload(getattr(pipeline, component), EXECUTION_DEVICE)
    log.events.append("setup done")
    image = pipeline(latents, text_embeds, timesteps)
    return {"image": image, "changed_by_offload": (image - plain_image).abs().max().item(), "events": log.events}


# Trusted side only: the peak memory, from a log and the grader's own sizes.
def _bytes(tensors):
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def peak_bytes(events, sizes):
    """The largest sum of ``sizes`` of the modules on EXECUTION_DEVICE at once, replaying the moves of ``events``."""
    onloaded, peak = set(), 0
    for event in events:
        if event.startswith("move "):
            name, device = event.removeprefix("move ").split(" to ")
            (onloaded.add if device == EXECUTION_DEVICE else onloaded.discard)(name)
            peak = max(peak, sum(sizes[name] for name in onloaded))
    return peak


def _whole_model_offload_events(model_seed, latents, text_embeds, timesteps):
    """The log of one call of a TinyPipeline under whole-model offload (enable_model_cpu_offload): a component
    moves to the execution device when called, after the previous one has left; the last leaves at the end."""
    pipeline, log = TinyPipeline(model_seed), MoveLog()
    previous = None
    for component in pipeline.components:
        module = getattr(pipeline, component)
        log.watch(module, prefix=component, units=lambda module: [("", module)])

        def onload(module, args, previous=previous):
            if previous is not None:
                previous.to(OFFLOAD_DEVICE)
            module.to(EXECUTION_DEVICE)

        module.register_forward_pre_hook(onload)
        previous = module
    pipeline(latents, text_embeds, timesteps)
    previous.to(OFFLOAD_DEVICE)
    return log.events


def judge_peak(figures, events, model_seed, latents, text_embeds, timesteps):
    """The peak bytes of the candidate's log of ``pipeline_offload`` and of whole-model offload on the same
    pipeline, recorded as figures; the candidate's must be at most the largest leaf's bytes."""
    pipeline = TinyPipeline(model_seed)
    leaf_sizes = {f"{component}.{name}": _bytes([*leaf.parameters(), *leaf.buffers()])
                  for component in pipeline.components for name, leaf in leaves(getattr(pipeline, component))}
    component_sizes = {component: _bytes([*getattr(pipeline, component).parameters(),
                                          *getattr(pipeline, component).buffers()])
                       for component in pipeline.components}
    candidate = peak_bytes(events, leaf_sizes)
    whole_model = peak_bytes(_whole_model_offload_events(model_seed, latents, text_embeds, timesteps),
                             component_sizes)
    largest_leaf = max(leaf_sizes.values())
    figures.record("peak_bytes_sequential_candidate", candidate)
    figures.record("peak_bytes_whole_model", whole_model)
    figures.record("largest_leaf_bytes", largest_leaf)
    assert candidate <= largest_leaf, (f"{candidate} bytes of leaves were on the execution device at once, more "
                                       f"than the largest leaf's {largest_leaf} (whole-model offload: {whole_model})")

"""Trusted helpers for model-offload-hooks. Each runs with ``solution`` = the candidate's module (in the worker) or
ORACLE (in the grader). Both sides build the same tiny seeded components, watch them, hand them to ``solution``
and call them in a fixed order; what comes back is the outputs and the log of moves and calls.

The CPU grader has one device, so the execution device is EXECUTION_DEVICE, "cpu:0": the same memory as "cpu" but
a distinct device string. A component's place is the device its last ``.to`` named; the probe wraps each
component's ``.to`` and logs a move only when that place changes, so repeated moves to where it already is do not
count. Calls are logged by a forward hook the probe registers first: it runs after the component's forward,
and records where the component was then."""

from types import SimpleNamespace

import torch

from pytest_diffchallenge import recipes

OFFLOAD_DEVICE = "cpu"
EXECUTION_DEVICE = "cpu:0"
TOKENS = 7
LATENTS = (1, 4, 8, 8)
GUIDANCE_SCALE = 5.0


class _OffloadHook:
    """accelerate's CpuOffload + UserCpuOffloadHook, with the place of each module kept by the hook, since on the
    CPU grader a module's parameters cannot tell "cpu" from "cpu:0"."""

    def __init__(self, module, execution_device, prev_hook):
        self.module, self.execution_device, self.prev_hook = module, execution_device, prev_hook
        module.register_forward_pre_hook(self._onload)
        self.offload()

    def _onload(self, module, args):
        if self.prev_hook is not None:
            self.prev_hook.offload()
        module.to(self.execution_device)

    def offload(self):
        self.module.to(OFFLOAD_DEVICE)


def _offload_with_hook(module, execution_device, prev_hook=None):
    return module, _OffloadHook(module, execution_device, prev_hook)


def _enable_model_offload(pipeline, execution_device):
    hooks = []
    for name in pipeline.model_cpu_offload_seq.split("->"):
        component = getattr(pipeline, name, None)
        if component is not None:
            hooks.append(_offload_with_hook(component, execution_device, hooks[-1] if hooks else None)[1])
    return hooks


ORACLE = SimpleNamespace(offload_with_hook=_offload_with_hook, enable_model_offload=_enable_model_offload)


class MoveLog:
    """Where each watched component is, and the moves and calls in order, as strings."""

    def __init__(self):
        self.places, self.events = {}, []

    def watch(self, name, component, place=OFFLOAD_DEVICE):
        self.places[name] = place
        move = component.to

        def to(*args, **kwargs):
            device = torch._C._nn._parse_to(*args, **kwargs)[0]
            if device is not None and str(device) != self.places[name]:
                self.places[name] = str(device)
                self.events.append(f"move {name} to {device}")
            return move(*args, **kwargs)

        component.to = to  # an instance attribute: nn.Module keeps plain functions in __dict__
        component.register_forward_hook(lambda module, args, output: self.events.append(
            f"call {name} on {self.places[name]}"))


class TinyPipeline:
    """A Stable Diffusion-shaped pipeline of tiny seeded models. ``image_encoder`` is named in the offload order
    but absent, as in StableDiffusionPipeline without IP-Adapter."""

    model_cpu_offload_seq = "text_encoder->image_encoder->unet->decoder"

    def __init__(self, seed):
        self.text_encoder = recipes.tiny_text_encoder(seed)
        self.image_encoder = None
        self.unet = recipes.tiny_unet(seed + 1)
        self.decoder = recipes.tiny_vae(seed + 2).decoder.eval()
        self.scheduler = "not a module"

    @torch.no_grad()
    def __call__(self, input_ids, latents, timesteps):
        """Classifier-free guidance: the text encoder runs twice, the UNet once per step, the decoder once."""
        uncond = self.text_encoder(torch.zeros_like(input_ids)).last_hidden_state
        cond = self.text_encoder(input_ids).last_hidden_state
        embeds = torch.cat([uncond, cond])
        for timestep in timesteps:
            noise_uncond, noise_cond = self.unet(torch.cat([latents] * 2), timestep, embeds).sample.chunk(2)
            latents = latents - 0.1 * (noise_uncond + GUIDANCE_SCALE * (noise_cond - noise_uncond))
        return self.decoder(latents)


def input_ids(seed):
    """Token ids of the tiny tokenizer's vocabulary, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, len(recipes.tiny_tokenizer()), (1, TOKENS), generator=generator)


def pipeline_offload(solution, model_seed, input_ids, latents, timesteps):
    """``enable_model_offload`` on a TinyPipeline, one pipeline call, then ``offload()`` on every hook it returned,
    as diffusers' maybe_free_model_hooks frees them. ``changed_by_offload``: how far the image is from that of an
    identical pipeline without offload, in the same process."""
    plain_image = TinyPipeline(model_seed)(input_ids, latents, timesteps)
    pipeline, log = TinyPipeline(model_seed), MoveLog()
    for name in ("text_encoder", "unet", "decoder"):
        log.watch(name, getattr(pipeline, name))
    hooks = solution.enable_model_offload(pipeline, EXECUTION_DEVICE)
    log.events.append("setup done")
    image = pipeline(input_ids, latents, timesteps)
    for hook in hooks:
        hook.offload()
    return {"image": image, "changed_by_offload": (image - plain_image).abs().max().item(), "hooks": len(hooks),
            "events": log.events}


def chained_hooks(solution, model_seed, inputs, script, arrive_on=OFFLOAD_DEVICE):
    """Three small modules "a", "b", "c", chained a -> b -> c by ``offload_with_hook``'s prev_hook, arriving on
    ``arrive_on``. ``script`` is a list of steps: a module's name calls it on the next row of ``inputs``;
    "offload NAME" calls that module's hook.offload()."""
    torch.manual_seed(model_seed)
    modules = {name: torch.nn.Linear(inputs.shape[-1], inputs.shape[-1]) for name in "abc"}
    log, hooks, returned_itself = MoveLog(), {}, []
    for name, module in modules.items():
        module.to(arrive_on)
        log.watch(name, module, arrive_on)
    prev_hook = None
    for name, module in modules.items():
        returned, prev_hook = solution.offload_with_hook(module, EXECUTION_DEVICE, prev_hook)
        hooks[name] = prev_hook
        returned_itself.append(returned is module)
    log.events.append("setup done")
    outputs = []
    with torch.no_grad():
        for step in script:
            if step.startswith("offload "):
                hooks[step.removeprefix("offload ")].offload()
            else:
                outputs.append(modules[step](inputs[len(outputs)]))
    return {"outputs": torch.stack(outputs), "returned_itself": returned_itself, "events": log.events}

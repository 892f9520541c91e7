"""flow-match-euler: the flow-matching Euler sampler of SD3 and Flux. See README.md."""

from diffusers import FlowMatchEulerDiscreteScheduler


def calculate_shift(image_seq_len, base_seq_len=256, max_seq_len=4096, base_shift=0.5, max_shift=1.15):
    raise NotImplementedError("calculate_shift is not implemented yet: Flux's mu for a number of latent tokens")


class CustomFlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteScheduler):
    def time_shift(self, mu, sigma, t):
        raise NotImplementedError("time_shift is not implemented yet (exponential and linear)")

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None):
        raise NotImplementedError("set_timesteps is not implemented yet: set self.timesteps and self.sigmas "
                                  "(see README.md)")

    def scale_noise(self, sample, timestep, noise):
        raise NotImplementedError("scale_noise is not implemented yet: the flow-matching forward process")

    def step(self, model_output, timestep, sample, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0,
             generator=None, per_token_timesteps=None, return_dict=True):
        raise NotImplementedError("step is not implemented yet: one Euler step from sigmas[i] to sigmas[i + 1]")

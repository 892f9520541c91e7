"""Reference solution for flow-match-euler: the rectified-flow Euler sampler of Stable Diffusion 3 (Esser et al.,
2024) and Flux, as FlowMatchEulerDiscreteScheduler runs it: x_t = (1 - sigma) x_0 + sigma noise, the model
predicts the velocity dx/dsigma = noise - x_0, and sampling integrates it from sigma = 1 down to 0."""

import math

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteSchedulerOutput
from diffusers.utils.torch_utils import randn_tensor


def calculate_shift(image_seq_len, base_seq_len=256, max_seq_len=4096, base_shift=0.5, max_shift=1.15):
    """Flux's mu: linear in the number of latent tokens, base_shift at base_seq_len, max_shift at max_seq_len."""
    slope = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return base_shift + slope * (image_seq_len - base_seq_len)


class CustomFlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteScheduler):
    def time_shift(self, mu, sigma, t):
        # both forms map t to s with s / (1 - s) = shift * (t / (1 - t)) ** sigma: exponential uses shift = e^mu
        shift = math.exp(mu) if self.config.time_shift_type == "exponential" else mu
        return shift / (shift + (1 / t - 1) ** sigma)

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None):
        train_steps = self.config.num_train_timesteps
        if self.config.use_dynamic_shifting and mu is None:
            raise ValueError("pass mu when use_dynamic_shifting is set")

        # 1. evenly spaced sigmas between the ends of the training schedule (already shifted by __init__
        #    when the shift is static), unless the caller gives them (Flux passes linspace(1, 1 / n, n))
        if sigmas is None:
            sigmas = np.linspace(self.sigma_max * train_steps, self.sigma_min * train_steps,
                                 num_inference_steps) / train_steps
        else:
            sigmas = np.array(sigmas, dtype=np.float32)
            num_inference_steps = len(sigmas)
        self.num_inference_steps = num_inference_steps

        # 2. shift towards high noise: static (SD3's shift = 3) or from the resolution (Flux's mu)
        if self.config.use_dynamic_shifting:
            sigmas = self.time_shift(mu, 1.0, sigmas)
        else:
            sigmas = self.shift * sigmas / (1 + (self.shift - 1) * sigmas)

        # 3. the model is conditioned on t = 1000 sigma; the run ends at sigma 0, the clean sample
        sigmas = torch.from_numpy(sigmas).to(dtype=torch.float32, device=device)
        self.timesteps = sigmas * train_steps
        self.sigmas = torch.cat([sigmas, torch.zeros(1, device=sigmas.device)])
        self._step_index = None
        self._begin_index = None

    def scale_noise(self, sample, timestep, noise):
        """The forward process: x_t = sigma noise + (1 - sigma) x_0 at each sample's timestep."""
        sigmas = self.sigmas.to(device=sample.device, dtype=sample.dtype)
        schedule_timesteps = self.timesteps.to(sample.device)
        timestep = timestep.to(sample.device)
        if self.begin_index is None:
            step_indices = [self.index_for_timestep(t, schedule_timesteps) for t in timestep]
        elif self.step_index is not None:
            step_indices = [self.step_index] * timestep.shape[0]  # inpainting: called after a step
        else:
            step_indices = [self.begin_index] * timestep.shape[0]  # img2img: before the first step
        sigma = sigmas[step_indices].reshape(-1, *([1] * (sample.ndim - 1)))
        return sigma * noise + (1.0 - sigma) * sample

    def step(self, model_output, timestep, sample, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0,
             generator=None, per_token_timesteps=None, return_dict=True):
        if per_token_timesteps is not None:
            raise NotImplementedError("per-token timesteps are not part of this challenge")
        if self.step_index is None:
            self._init_step_index(timestep)
        sample = sample.to(torch.float32)
        sigma, sigma_next = self.sigmas[self.step_index], self.sigmas[self.step_index + 1]

        if self.config.stochastic_sampling:
            # jump to x0 along the velocity, then re-noise to sigma_next with fresh noise
            pred_original_sample = sample - sigma * model_output
            noise = randn_tensor(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
            prev_sample = (1.0 - sigma_next) * pred_original_sample + sigma_next * noise
        else:
            prev_sample = sample + (sigma_next - sigma) * model_output  # one Euler step of dx/dsigma = v

        self._step_index += 1
        prev_sample = prev_sample.to(model_output.dtype)
        if not return_dict:
            return (prev_sample,)
        return FlowMatchEulerDiscreteSchedulerOutput(prev_sample=prev_sample)

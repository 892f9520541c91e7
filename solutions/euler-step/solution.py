"""Reference solution for euler-step: the Euler sampler of Karras et al. (2022, "Elucidating the Design
Space of Diffusion-Based Generative Models", Algorithm 2) in sigma space, as EulerDiscreteScheduler runs it."""

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler
from diffusers.schedulers.scheduling_euler_discrete import EulerDiscreteSchedulerOutput
from diffusers.utils.torch_utils import randn_tensor

KARRAS_RHO = 7.0  # the value used in the paper


class CustomEulerScheduler(EulerDiscreteScheduler):
    def set_timesteps(self, num_inference_steps, device=None):
        self.num_inference_steps = num_inference_steps
        train_steps = self.config.num_train_timesteps

        # 1. timesteps, as in Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed"
        if self.config.timestep_spacing == "linspace":
            timesteps = np.linspace(0, train_steps - 1, num_inference_steps, dtype=np.float32)[::-1].copy()
        elif self.config.timestep_spacing == "leading":
            step_ratio = train_steps // num_inference_steps
            timesteps = (np.arange(num_inference_steps) * step_ratio).round()[::-1].astype(np.float32)
            timesteps += self.config.steps_offset
        elif self.config.timestep_spacing == "trailing":
            step_ratio = train_steps / num_inference_steps
            timesteps = np.arange(train_steps, 0, -step_ratio).round().astype(np.float32) - 1
        else:
            raise ValueError(f"unknown timestep_spacing {self.config.timestep_spacing!r}")

        # 2. sigma(t) = sqrt((1 - alpha_bar_t) / alpha_bar_t), linearly interpolated at fractional timesteps
        train_sigmas = (((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5).numpy()
        sigmas = np.interp(timesteps, np.arange(train_steps), train_sigmas)

        # 3. Karras: rho-spaced sigmas between the ends of that schedule, mapped back to (fractional)
        #    timesteps by interpolating t in log-sigma
        if self.config.use_karras_sigmas:
            sigma_min = self.config.sigma_min if self.config.sigma_min is not None else sigmas[-1]
            sigma_max = self.config.sigma_max if self.config.sigma_max is not None else sigmas[0]
            ramp = np.linspace(0, 1, num_inference_steps)
            min_inv_rho, max_inv_rho = sigma_min ** (1 / KARRAS_RHO), sigma_max ** (1 / KARRAS_RHO)
            sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** KARRAS_RHO
            timesteps = np.interp(np.log(sigmas), np.log(train_sigmas), np.arange(train_steps))

        # 4. the sigma after the last step: 0 (a clean sample) or the smallest training sigma
        if self.config.final_sigmas_type == "zero":
            sigma_last = 0.0
        elif self.config.final_sigmas_type == "sigma_min":
            sigma_last = train_sigmas[0]
        else:
            raise ValueError(f"unknown final_sigmas_type {self.config.final_sigmas_type!r}")
        sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)

        self.timesteps = torch.from_numpy(timesteps.astype(np.float32)).to(device=device)
        self.sigmas = torch.from_numpy(sigmas)  # stays on the CPU: step reads single entries
        self._step_index = None
        self._begin_index = None

    def scale_model_input(self, sample, timestep):
        # x = x0 + sigma * noise has variance sigma^2 + 1; the UNet was trained on unit-variance inputs
        if self.step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self.step_index]
        self.is_scale_input_called = True
        return sample / (sigma**2 + 1) ** 0.5

    def step(self, model_output, timestep, sample, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0,
             generator=None, return_dict=True):
        if self.step_index is None:
            self._init_step_index(timestep)
        sample = sample.to(torch.float32)  # the update is computed in fp32 whatever the model's dtype
        sigma = self.sigmas[self.step_index]

        # 1. churn: raise the noise level from sigma to sigma_hat by adding fresh noise (Karras' S_churn)
        gamma = min(s_churn / (len(self.sigmas) - 1), 2**0.5 - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)
        if gamma > 0:
            noise = randn_tensor(model_output.shape, dtype=model_output.dtype, device=model_output.device,
                                 generator=generator)
            sample = sample + noise * s_noise * (sigma_hat**2 - sigma**2) ** 0.5

        # 2. the denoised sample x0 (the v-prediction scalings use sigma, as the model saw the input at sigma)
        if self.config.prediction_type == "epsilon":
            pred_original_sample = sample - sigma_hat * model_output
        elif self.config.prediction_type == "v_prediction":
            pred_original_sample = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + sample / (sigma**2 + 1)
        elif self.config.prediction_type == "sample":
            pred_original_sample = model_output
        else:
            raise ValueError(f"unknown prediction_type {self.config.prediction_type!r}")

        # 3. one Euler step of the probability-flow ODE dx/dsigma = (x - x0) / sigma
        derivative = (sample - pred_original_sample) / sigma_hat
        prev_sample = sample + derivative * (self.sigmas[self.step_index + 1] - sigma_hat)
        prev_sample = prev_sample.to(model_output.dtype)

        self._step_index += 1
        if not return_dict:
            return prev_sample, pred_original_sample
        return EulerDiscreteSchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)

"""Reference solution for ddim-step: DDIM's update (Song et al., 2020, eq. 12), written out."""

import torch
from diffusers import DDIMScheduler
from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput
from diffusers.utils.torch_utils import randn_tensor


class CustomDDIMScheduler(DDIMScheduler):
    def step(self, model_output, timestep, sample, eta=0.0, use_clipped_model_output=False, generator=None,
             variance_noise=None, return_dict=True):
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps before step")
        # 1. previous timestep: DDIM always steps by T // n, whatever the spacing of self.timesteps
        prev_timestep = timestep - self.config.num_train_timesteps // self.num_inference_steps

        # 2. cumulative alphas; before t = 0 use the scheduler's final alpha (1 when set_alpha_to_one)
        alpha_prod_t = self.alphas_cumprod[timestep]
        alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        beta_prod_t = 1 - alpha_prod_t

        # 3. predicted x_0 and epsilon, from whichever quantity the model predicts
        if self.config.prediction_type == "epsilon":
            pred_original_sample = (sample - beta_prod_t**0.5 * model_output) / alpha_prod_t**0.5
            pred_epsilon = model_output
        elif self.config.prediction_type == "sample":
            pred_original_sample = model_output
            pred_epsilon = (sample - alpha_prod_t**0.5 * pred_original_sample) / beta_prod_t**0.5
        elif self.config.prediction_type == "v_prediction":
            pred_original_sample = alpha_prod_t**0.5 * sample - beta_prod_t**0.5 * model_output
            pred_epsilon = alpha_prod_t**0.5 * model_output + beta_prod_t**0.5 * sample
        else:
            raise ValueError(f"unknown prediction_type {self.config.prediction_type!r}")

        # 4. keep x_0 in range: dynamic thresholding (Imagen) or plain clipping
        if self.config.thresholding:
            pred_original_sample = self._dynamic_threshold(pred_original_sample)
        elif self.config.clip_sample:
            limit = self.config.clip_sample_range
            pred_original_sample = pred_original_sample.clamp(-limit, limit)

        # 5. sigma_t (eq. 16): eta interpolates between DDIM (0) and DDPM (1)
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
        std_dev_t = eta * variance**0.5

        if use_clipped_model_output:
            pred_epsilon = (sample - alpha_prod_t**0.5 * pred_original_sample) / beta_prod_t**0.5

        # 6. eq. 12: x_{t-1} = sqrt(a_prev) x_0 + sqrt(1 - a_prev - sigma^2) eps + sigma z
        pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t**2) ** 0.5 * pred_epsilon
        prev_sample = alpha_prod_t_prev**0.5 * pred_original_sample + pred_sample_direction

        if eta > 0:
            if variance_noise is not None and generator is not None:
                raise ValueError("pass either generator or variance_noise, not both")
            if variance_noise is None:
                variance_noise = randn_tensor(model_output.shape, generator=generator, device=model_output.device,
                                              dtype=model_output.dtype)
            prev_sample = prev_sample + std_dev_t * variance_noise

        if not return_dict:
            return prev_sample, pred_original_sample
        return DDIMSchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)

    def _dynamic_threshold(self, sample):
        dtype = sample.dtype
        batch_size, channels, *spatial = sample.shape
        flat = sample.reshape(batch_size, -1)
        if dtype not in (torch.float32, torch.float64):
            flat = flat.float()  # quantile and clamp need a full-precision float on the CPU
        s = torch.quantile(flat.abs(), self.config.dynamic_thresholding_ratio, dim=1)
        s = torch.clamp(s, min=1, max=self.config.sample_max_value).unsqueeze(1)
        flat = torch.clamp(flat, -s, s) / s
        return flat.reshape(batch_size, channels, *spatial).to(dtype)

"""Reference solution for dpm-solver-2m: DPM-Solver++(2M) (Lu et al., 2022, "DPM-Solver++: Fast Solver for
Guided Sampling of Diffusion Probabilistic Models", Algorithm 2) with the midpoint second-order term, as
DPMSolverMultistepScheduler runs it."""

import torch
from diffusers import DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerOutput


class CustomDPMSolverMultistepScheduler(DPMSolverMultistepScheduler):
    def step(self, model_output, timestep, sample, generator=None, variance_noise=None, return_dict=True):
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps before step")
        if (self.config.algorithm_type, self.config.solver_order, self.config.solver_type) != ("dpmsolver++", 2,
                                                                                               "midpoint"):
            raise NotImplementedError("only DPM-Solver++(2M) with the midpoint update is implemented")
        if self.step_index is None:
            self._init_step_index(timestep)

        # 1. the last step is first order (an Euler/DDIM step) when asked to, when there are few steps
        #    (stabler), and always when the final sigma is 0: the second-order term would be inf * 0 there
        is_last_step = self.step_index == len(self.timesteps) - 1
        first_order = self.lower_order_nums < 1 or (is_last_step and (
            self.config.euler_at_final
            or (self.config.lower_order_final and len(self.timesteps) < 15)
            or self.config.final_sigmas_type == "zero"))

        # 2. DPM-Solver++ integrates the data prediction x0: convert the model output, keep the last two
        data_prediction = self._data_prediction(model_output, sample)
        self.model_outputs = self.model_outputs[1:] + [data_prediction]

        # 3. the update, in log-SNR time lambda = log(alpha / sigma), computed in fp32
        sample = sample.to(torch.float32)
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index + 1])
        alpha_s0, sigma_s0 = self._alpha_sigma(self.sigmas[self.step_index])
        h = _log_snr(alpha_t, sigma_t) - _log_snr(alpha_s0, sigma_s0)
        # x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) D: exact for a constant x0 over the step
        prev_sample = (sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * data_prediction
        if not first_order:
            # the midpoint correction: D1 is the finite-difference derivative of x0 in lambda, times h
            alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[self.step_index - 1])
            r0 = (_log_snr(alpha_s0, sigma_s0) - _log_snr(alpha_s1, sigma_s1)) / h
            newest, previous = self.model_outputs[-1], self.model_outputs[-2]
            derivative_term = (1.0 / r0) * (newest - previous)
            prev_sample = prev_sample - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * derivative_term

        self.lower_order_nums = min(self.lower_order_nums + 1, self.config.solver_order)
        # the library casts back to the x0 prediction's dtype: promote(sample, model_output), or model_output's
        prev_sample = prev_sample.to(data_prediction.dtype)
        self._step_index += 1
        if not return_dict:
            return (prev_sample,)
        return SchedulerOutput(prev_sample=prev_sample)

    @staticmethod
    def _alpha_sigma(sigma):
        """The variance-preserving (alpha_t, sigma_t) of the noise level sigma = sigma_t / alpha_t."""
        alpha_t = 1 / (sigma**2 + 1) ** 0.5
        return alpha_t, sigma * alpha_t

    def _data_prediction(self, model_output, sample):
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index])
        if self.config.prediction_type == "epsilon":
            return (sample - sigma_t * model_output) / alpha_t
        if self.config.prediction_type == "v_prediction":
            return alpha_t * sample - sigma_t * model_output
        if self.config.prediction_type == "sample":
            return model_output
        raise ValueError(f"unsupported prediction_type {self.config.prediction_type!r}")


def _log_snr(alpha, sigma):
    return torch.log(alpha) - torch.log(sigma)

"""euler-step: implement EulerDiscreteScheduler's sigma schedule, input scaling and step. See README.md."""

from diffusers import EulerDiscreteScheduler


class CustomEulerScheduler(EulerDiscreteScheduler):
    def set_timesteps(self, num_inference_steps, device=None):
        raise NotImplementedError(
            "CustomEulerScheduler.set_timesteps is not implemented yet: set self.timesteps and self.sigmas "
            "(num_inference_steps + 1 values, ending with the final sigma) from the config (see README.md)")

    def scale_model_input(self, sample, timestep):
        raise NotImplementedError("CustomEulerScheduler.scale_model_input is not implemented yet: scale the UNet's "
                                  "input for the current sigma")

    def step(self, model_output, timestep, sample, s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0,
             generator=None, return_dict=True):
        raise NotImplementedError("CustomEulerScheduler.step is not implemented yet: take one Euler step from "
                                  "sigmas[i] to sigmas[i + 1] (see README.md)")

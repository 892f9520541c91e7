"""dpm-solver-2m: implement DPM-Solver++(2M)'s step yourself. See README.md."""

from diffusers import DPMSolverMultistepScheduler


class CustomDPMSolverMultistepScheduler(DPMSolverMultistepScheduler):
    def step(self, model_output, timestep, sample, generator=None, variance_noise=None, return_dict=True):
        raise NotImplementedError(
            "CustomDPMSolverMultistepScheduler.step is not implemented yet: convert the model output to x0, keep "
            "it in self.model_outputs, and take a first- or second-order step from sigmas[i] to sigmas[i + 1] "
            "(see README.md)")

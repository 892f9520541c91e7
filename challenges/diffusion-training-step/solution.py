"""diffusion-training-step: one fine-tuning step of a diffusion UNet. See README.md."""


def train_only_cross_attention_kv(unet):
    raise NotImplementedError(
        "train_only_cross_attention_kv is not implemented yet: freeze the UNet, then make the to_k and to_v of "
        "every cross-attention (attn2) trainable (see README.md)")


def training_step(unet, scheduler, optimizer, latents, encoder_hidden_states, generator, noise_offset=0.0,
                  snr_gamma=None):
    raise NotImplementedError(
        "training_step is not implemented yet: draw the noise and timesteps from generator in the README's order, "
        "add the noise, compute the target and the (min-SNR-weighted) loss, then backward, step and zero_grad")

"""Training: the loop, the GAN phases, checkpoints and the run folder."""

"""gankit: train, watch and measure generative adversarial networks."""
__version__ = "0.1.0"

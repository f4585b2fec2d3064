"""Networks: plain nn.Modules registered by name."""
from gankit.nets import mlp  # noqa: F401
from gankit.nets import sequence  # noqa: F401
from gankit.nets import dcgan  # noqa: F401
from gankit.nets.noise import sample_noise  # noqa: F401

"""Networks: plain nn.Modules registered by name (gankit.builtins loads them)."""

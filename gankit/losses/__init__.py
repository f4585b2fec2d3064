"""Adversarial losses (pure functions of D outputs) and, apart, regularisers."""

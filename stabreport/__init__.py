"""stabreport: why gradients vanish or explode, measured over many seeded runs."""

__version__ = "0.1.0"

"""ParkDesk: turns complaint emails into rows of one shared register and keeps the park's procedure moving."""

__version__ = "0.1.0"

"""alphazero-c4: AlphaZero for Connect Four."""

__version__ = "0.1.0"

"""Batched array-tree MCTS over any `evaluate(boards) -> (priors, values)` function; never imports
torch.
"""

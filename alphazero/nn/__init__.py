"""The network: ConnectNet, checkpoints, growing, export, and the inference backends that turn a
net into an evaluator.
"""

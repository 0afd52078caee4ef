"""The dataset: the shard file format self-play writes and what training makes of it (window,
split, targets, minibatches).
"""

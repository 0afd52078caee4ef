"""The stages of a run: self-play (and its worker pools), training, the arena, breadth against
perfect play.
"""

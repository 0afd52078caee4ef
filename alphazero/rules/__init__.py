"""Connect Four itself: the bitboard rules, the net's input encoding, the perfect solver, the
solver-labelled benchmark positions.
"""

"""What a person uses a net for: terminal play, analysis of a position or a recorded game, the
browser server.
"""

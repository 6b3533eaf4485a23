"""The host end of the board stream: parse frames, talk to the board, keep counts."""

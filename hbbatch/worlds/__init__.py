"""Where market paths come from, host side: embedded real history, users' history files and their
gates, and the inputs (arrays) the on-device bootstrap and replay read."""

"""Dataclass schemas for every config group, registered in Hydra's ConfigStore."""

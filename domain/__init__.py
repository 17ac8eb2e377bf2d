"""The rdflow domain: entities, status machines, permissions, services and ports. Imports no framework."""

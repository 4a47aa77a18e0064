"""Task-group builders, one per phase of a release: prepare, build, deploy, finish.

Releases and rollbacks are assembled from these same builders.
"""

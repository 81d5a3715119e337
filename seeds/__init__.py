"""Seed data shipped with tracker (installed as ``tracker.seed_files``): dossiers, the feed list,
the relevance rules and sample feeds."""

"""No-code flows: a trigger plus up to 20 steps, their definition, storage, runs (recorded step
by step), safe Jinja templating and ready-made templates."""

"""What a curve shows, in numbers: noise, trend, excursions, levels, train/val alignment.

Pure numpy functions over plain arrays (steps, values), no rule knowledge. Every decision
downstream is an effect size measured against the curve's own noise, on the time scale of
training progress (steps), never on how many points a logger happened to write.
"""

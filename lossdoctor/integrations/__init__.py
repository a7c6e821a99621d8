"""Callbacks that judge a run while it trains: Keras, Lightning, HF Transformers.

Each lives in its own module and imports its framework there only, so lossdoctor never
needs a framework installed: `from lossdoctor.integrations.keras import LossDoctor`
(`pip install "lossdoctor[keras]"`), `...lightning import LossDoctor`,
`...transformers import LossDoctorCallback`. `live` is what they share.
"""

"""Every use case's Feast objects, so `feast apply` here registers what the pipelines do."""

from modelworks.discovery import gather_feature_definitions

globals().update({f"{type(o).__name__}_{o.name}": o for o in gather_feature_definitions()})

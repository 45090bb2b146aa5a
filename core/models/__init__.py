"""Model manifest, local store (folder, Hugging Face cache, download) and safe weight loading.

- ``manifest``: the models Packshot knows (resources/models.json) plus the user's own.
- ``store.ModelStore``: resolves a model id to a local folder, downloads and verifies.
- ``safe_load.load_state_dict``: safetensors, or ``torch.load(weights_only=True)``; never runs code.
"""

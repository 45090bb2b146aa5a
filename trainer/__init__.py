"""Fine-tune on a brand's own product photos: the paper's ControlNet, or a brand-style LoRA.

As in the paper, the SI2 UNet, VAE and text encoder stay frozen in ``controlnet`` mode; ``lora``
adapts the UNet on top of the paper's model. The result is a model folder laid out like the
published one, listed by the model store under its name. ``train.train_controlnet`` is the job
(``packshot train`` runs it in-process; the desktop wizard runs it in a separate process through
``run_process``); ``dataset`` and ``captions`` turn a folder of photos into training samples.
"""

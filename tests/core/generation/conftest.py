from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir, tiny_diffusion_store  # noqa: F401

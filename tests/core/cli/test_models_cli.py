import subprocess
import sys

from packshot.core.cli.main import main


def test_help_runs_offline_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "packshot.core.cli.main", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "models" in out.stdout


def test_models_list_offline(fake_models_dir, capsys):
    assert main(["models", "--models-dir", str(fake_models_dir), "list"]) == 0
    out = capsys.readouterr().out
    assert "photo-background-generation" in out and str(fake_models_dir / "photo-background-generation") in out
    assert "sd2-inpainting" in out and "missing" in out


def test_models_verify_names_corrupted_file(fake_models_dir, capsys):
    assert main(["models", "--models-dir", str(fake_models_dir), "verify", "photo-background-generation"]) == 0
    vae = fake_models_dir / "photo-background-generation" / "vae" / "diffusion_pytorch_model.safetensors"
    vae.write_bytes(vae.read_bytes()[:-10])
    assert main(["models", "--models-dir", str(fake_models_dir), "verify", "photo-background-generation"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "vae/diffusion_pytorch_model.safetensors" in out


def test_models_path_and_missing(fake_models_dir, capsys):
    assert main(["models", "--models-dir", str(fake_models_dir), "path", "sam-vit_b"]) == 0
    assert capsys.readouterr().out.strip() == str(fake_models_dir / "sam-vit_b")
    assert main(["models", "--models-dir", str(fake_models_dir), "path", "sam-vit_h"]) == 1
    assert "packshot models download sam-vit_h" in capsys.readouterr().err

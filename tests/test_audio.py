import numpy as np
import pytest
import soundfile as sf

from medtalk_core import audio
from medtalk_core.errors import AudioLoadError


def _dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def test_48k_sine_resamples_keeping_frequency_and_rms(tmp_path):
    t = np.arange(48000 * 2) / 48000
    sine = 0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    path = tmp_path / "sine.wav"
    sf.write(path, sine, 48000, subtype="FLOAT")
    out = audio.load_audio(path)
    assert out.dtype == np.float32 and len(out) == 32000
    core = out[1600:-1600]  # leave the filter's edges out
    assert _dominant_hz(core, 16000) == pytest.approx(1000, rel=0.01)
    rms_in, rms_out = np.sqrt(np.mean(sine ** 2)), np.sqrt(np.mean(core ** 2))
    assert rms_out == pytest.approx(rms_in, rel=0.01)


def test_stereo_is_mixed_to_mono(tmp_path):
    left = np.full(16000, 0.6, np.float32)
    right = np.full(16000, -0.2, np.float32)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, right], axis=1), 16000)
    out = audio.load_audio(path)
    assert out.shape == (16000,)
    assert np.allclose(out, 0.2, atol=1e-3)


def test_ogg_loads(tmp_path):
    t = np.arange(22050) / 22050
    path = tmp_path / "a.ogg"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="OGG", subtype="VORBIS")
    out = audio.load_audio(path)
    assert abs(len(out) - 16000) <= 1
    assert _dominant_hz(out, 16000) == pytest.approx(440, rel=0.02)


def test_frame_count_rule():
    assert audio.num_frames(16000) == 60
    assert audio.num_frames(53760) == 201  # 3.36 s
    assert audio.num_frames(266) == 0


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 10])
def test_unreadable_or_empty_file_names_the_file(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioLoadError, match="broken.wav"):
        audio.load_audio(path)


def test_zero_length_wav_names_the_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioLoadError, match="empty.wav.*no samples"):
        audio.load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioLoadError, match="not found"):
        audio.load_audio(tmp_path / "nope.wav")

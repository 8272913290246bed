"""The analyzer's inference network: folded BatchNorm and reordered pooling compute the original function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.analyzer import Analyzer, StridedMax, fold_for_inference, inference_network
from engine.model_folder import ModelConfig, build_network, load_model
from engine.networks import EMBEDDING_DIM, LogFreqCNNConfig, encoder_config_to_dict, statistics_dimension


def _trained_looking(network: nn.Module) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics and affine values, as training would."""
    generator = torch.Generator().manual_seed(0)
    for module in network.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator))
    return network.eval()


def test_folded_network_gives_the_same_outputs_with_fewer_batch_norms(model_dir):
    network = _trained_looking(load_model(model_dir).network)
    folded = fold_for_inference(network)
    audio = torch.randn(5, load_model(model_dir).config.window_samples, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected, actual = network(audio), folded(audio)
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-4)

    def batch_norms(module: nn.Module) -> int:
        return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())

    assert batch_norms(folded) < batch_norms(network)
    assert batch_norms(network) > 1  # the original is left as it was
    assert not folded.encoder.frontend.differentiable and network.encoder.frontend.differentiable


def test_relu_and_max_pooling_become_one_strided_maximum():
    block = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)).eval()
    folded = fold_for_inference(block)
    assert [type(layer) for layer in folded] == [nn.Conv2d, StridedMax]
    assert folded[1].rectified and folded[1].kernel == (2, 2)
    values = torch.randn(3, 1, 8, 9)
    with torch.inference_mode():
        torch.testing.assert_close(folded(values), block(values), rtol=1e-5, atol=1e-5)


def test_a_pooling_with_its_own_stride_or_padding_stays_after_the_moved_relu():
    block = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)).eval()
    folded = fold_for_inference(block)
    assert [type(layer) for layer in folded] == [nn.Conv2d, nn.MaxPool2d, nn.ReLU]
    values = torch.randn(2, 1, 9, 7)
    with torch.inference_mode():
        torch.testing.assert_close(folded(values), block(values), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", [(2, 2), (1, 2), (2, 1), (3, 2)])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("rectified", [False, True])
def test_strided_maximum_equals_max_pooling_exactly(kernel, memory_format, rectified):
    """Odd sizes drop their last row or column as max_pool2d does; NaN propagates; the input is never changed."""
    values = torch.randn(3, 5, 13, 11, generator=torch.Generator().manual_seed(4))
    values[0, 1, 2, 3] = float("nan")
    values = values.contiguous(memory_format=memory_format)
    before = values.clone()
    with torch.inference_mode():
        expected = torch.nn.functional.max_pool2d(torch.relu(values) if rectified else values, kernel)
        actual = StridedMax(kernel, rectified)(values)
    assert actual.shape == expected.shape
    assert torch.equal(actual.isnan(), expected.isnan())
    assert torch.equal(actual.nan_to_num(), expected.nan_to_num())
    assert torch.equal(values.nan_to_num(), before.nan_to_num())


def test_every_analyzer_of_a_model_shares_one_inference_network(model_dir):
    model = load_model(model_dir)
    assert Analyzer(model).network is Analyzer(model).network is inference_network(model.network)


def test_a_file_query_runs_on_one_thread_and_restores_the_thread_count(model_dir, tmp_path, monkeypatch):
    import audio_factory
    from engine import analyzer as analyzer_module
    from engine.keys import key_from_index

    path = audio_factory.write_audio(audio_factory.chord_progression(key_from_index(0), 8.0), tmp_path / "q.ogg")
    analyzer = Analyzer(load_model(model_dir))
    seen: list[int] = []
    run = analyzer.run_windows
    monkeypatch.setattr(analyzer, "run_windows", lambda windows: seen.append(torch.get_num_threads()) or run(windows))
    before = analyzer_module.QUERY_INFERENCE_THREADS + 1  # not the query's count (the suite runs on one thread)
    outer = torch.get_num_threads()
    torch.set_num_threads(before)
    try:
        analysis = analyzer.analyze_file(path)
        assert seen == [analyzer_module.QUERY_INFERENCE_THREADS]
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(outer)
    assert abs(float((analysis.embedding**2).sum()) - 1.0) < 1e-4


@pytest.mark.parametrize("pooling", ["invariant", "statistics"])
def test_folding_keeps_the_outputs_of_the_shipped_architectures(pooling):
    """Pitch-class key path with an invariant (v1.2) or statistics (v1.3) embedding: nested Sequentials fold too."""
    width = statistics_dimension(LogFreqCNNConfig.channels) if pooling == "statistics" else EMBEDDING_DIM
    architecture = encoder_config_to_dict(LogFreqCNNConfig(embedding_pooling=pooling, key_path="pitch_class",
                                                           embedding_dim=width))
    config = ModelConfig(name="folding", architecture=architecture, key_head={"hidden_dim": 0},
                         tag_head={"labels": ["a", "b"], "hidden_dim": 0})
    network = _trained_looking(build_network(config))
    folded = fold_for_inference(network)
    audio = torch.randn(3, config.window_samples, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected, actual = network(audio), folded(audio)
    for name in ("embeddings", "key_logits", "tag_logits"):
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-4)

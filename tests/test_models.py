"""Models against the original's parameter counts, the paper's C3 table, and a dense reference."""
import pytest
import torch
import torch.nn.functional as F

from mnistlib import C3_TABLE, MODELS, ConfigError, CustomMLP, LeNet5, build_model, count_parameters, parameter_table, predict_proba
from mnistlib.models.nets import SparseConv2d, resolve_model_name


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count_matches_the_seed(name):
    model = build_model(name)
    assert sum(p.numel() for p in model.parameters()) == MODELS[name].original_parameters
    assert parameter_table(model).parameters.iloc[-1] == MODELS[name].original_parameters


def test_lenet_layer_counts_are_the_seeds():
    table = parameter_table("LeNet5").set_index("layer").parameters
    assert table.to_dict() == {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}
    assert count_parameters(LeNet5().c3) == 1516  # sparse, not the dense 2,416


def test_c3_mask_equals_lecun_table_i():
    mask = LeNet5().c3.mask
    expected = torch.zeros(16, 6, dtype=torch.bool)
    for out_map, inputs in enumerate(C3_TABLE):
        expected[out_map, list(inputs)] = True
    assert torch.equal(mask, expected)
    assert mask.sum(1).tolist() == [3] * 6 + [4] * 9 + [6]
    # first rows of Table I spelled out, independent of C3_TABLE
    assert mask[0].nonzero().flatten().tolist() == [0, 1, 2]
    assert mask[14].nonzero().flatten().tolist() == [0, 2, 3, 5]


def test_sparse_conv_equals_masked_dense_conv_and_gradients_stay_sparse():
    torch.manual_seed(0)
    conv = SparseConv2d(6, C3_TABLE, 5)
    x = torch.randn(4, 6, 14, 14, requires_grad=True)
    dense = conv.dense_weight()
    assert torch.all(dense[~conv.mask] == 0)
    reference = F.conv2d(x, dense.detach() * conv.mask[:, :, None, None], conv.bias.detach())
    out = conv(x)
    torch.testing.assert_close(out, reference)
    out.square().sum().backward()
    assert conv.weight.grad.shape == (60, 5, 5) and torch.isfinite(conv.weight.grad).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_gives_logits(name):
    torch.manual_seed(0)
    model = build_model(name)
    out = model(torch.randn(5, 1, 32, 32))
    assert out.shape == (5, 10)
    assert not torch.allclose(out.sum(1), torch.ones(5))  # not probabilities
    probs = predict_proba(model, torch.randn(5, 1, 32, 32))
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    assert model.training  # predict_proba restores the mode


def test_mlp_widths_and_errors():
    assert CustomMLP([58]).hidden_sizes == CustomMLP([58, 10]).hidden_sizes == (58,)
    assert count_parameters(build_model("mlp:100,50")) == 1025 * 100 + 101 * 50 + 51 * 10
    with pytest.raises(ConfigError, match="positive"):
        CustomMLP([0, 10])
    with pytest.raises(ConfigError, match="activation"):
        LeNet5("gelu")


@pytest.mark.parametrize("alias,name", [("lenet5", "LeNet5"), ("LeNet-5", "LeNet5"), ("custommlp6", "CustomMLP_6"),
                                        ("lenet5_relu", "LeNet5-relu")])
def test_model_aliases(alias, name):
    assert resolve_model_name(alias) == name


def test_unknown_model_lists_choices():
    with pytest.raises(ConfigError, match="choose one of LeNet5.*CustomMLP_6"):
        build_model("resnet")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "silu"])
def test_lenet_activation_variants(activation):
    model = LeNet5(activation)
    assert type(model.s2[1]).__name__.lower() == activation
    assert count_parameters(model) == 60806


def test_a_squashing_after_c5_acts_between_c5_and_f6_and_keeps_the_weights():
    torch.manual_seed(0)
    plain, squashed = LeNet5("relu", f6="silu"), LeNet5("relu", f6="silu", c5="tanh")
    squashed.load_state_dict(plain.state_dict())  # the same keys: a stored run's weights load into either
    x = torch.randn(3, 1, 32, 32)
    c5 = plain.c5(plain.s4(plain.c3(plain.s2(plain.c1(x))))).flatten(1)
    assert torch.allclose(plain(x), plain.f7(plain.f6(c5)), atol=1e-6)  # the original's: nothing after C5
    assert torch.allclose(squashed(x), plain.f7(plain.f6(torch.tanh(c5))), atol=1e-6)
    assert MODELS["LeNet5-relu-silu-c5relu"].build().c5_squashing.__class__.__name__ == "ReLU"
    with pytest.raises(ConfigError, match="unknown C5 squashing 'elu'; choose one of none, sigmoid"):
        LeNet5(c5="elu")



def test_the_papers_subsampling_is_an_average_times_a_coefficient_plus_a_bias_per_map():
    """LeCun et al.'s S2 as the original describes it: 2 parameters a map, then the sigmoid."""
    from mnistlib.models.nets import Subsampling

    table = parameter_table("LeNet5-subsampling").set_index("layer").parameters
    assert table.to_dict() == {"c1": 156, "s2.0": 12, "c3": 1516, "s4.0": 32, "c5": 48120, "f6.0": 10164, "f7": 850,
                               "total": 60850}
    layer = Subsampling(3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -2.0, 3.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.0, -1.0]))
    x = torch.randn(2, 3, 4, 6)
    direct = torch.empty(2, 3, 2, 3)
    for i in range(2):
        for j in range(3):
            window = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            direct[:, :, i, j] = window.sum(dim=(2, 3)) / 4 * layer.weight + layer.bias
    torch.testing.assert_close(layer(x), direct)
    model = build_model("LeNet5-subsampling")
    assert isinstance(model.s2[0], Subsampling) and isinstance(model.s2[1], torch.nn.Sigmoid)
    torch.manual_seed(0)
    plain = build_model("LeNet5")
    torch.manual_seed(0)
    paper = build_model("LeNet5-subsampling")  # no random draw of its own: the other layers start alike
    assert torch.equal(plain.c1.weight, paper.c1.weight) and torch.equal(plain.f7.weight, paper.f7.weight)
    x = torch.randn(4, 1, 32, 32)
    assert paper(x).shape == (4, 10)
    with torch.no_grad():
        paper.s2[0].weight.fill_(2.0)
    expected = torch.sigmoid(2 * F.avg_pool2d(paper.c1(x), 2))
    torch.testing.assert_close(paper.s2(paper.c1(x)), expected)


@pytest.mark.parametrize("shape", [(3, 6, 28, 28), (2, 16, 10, 10), (2, 1, 7, 9)])
def test_lenets_max_pool_evaluates_as_max_pool2d_bit_for_bit_and_trains_as_it(shape):
    """Without a gradient: max_pool2d's values exactly (ties and odd sizes included); with one, its gradient,
    which sends a tie to the first maximum."""
    from mnistlib.models.nets import MaxPool2x2

    torch.manual_seed(0)
    x = torch.randint(-3, 3, shape).float()  # few values: many ties, as a black background gives
    x[0, 0, 0, 0] = float("nan")
    pool = MaxPool2x2()
    with torch.no_grad():
        fast, reference = pool(x), torch.nn.functional.max_pool2d(x, 2, 2)
    assert torch.equal(fast.isnan(), reference.isnan()) and torch.equal(fast.nan_to_num(), reference.nan_to_num())
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    weights = torch.randn(reference.shape)
    (pool(a).nan_to_num() * weights).sum().backward()
    (torch.nn.functional.max_pool2d(b, 2, 2).nan_to_num() * weights).sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert isinstance(build_model("LeNet5").s2[0], MaxPool2x2) and isinstance(pool, torch.nn.MaxPool2d)


def test_lenets_dropout_draws_from_its_own_generator_in_training_and_passes_through_in_eval():
    from mnistlib.models.nets import GeneratorDropout

    x = torch.ones(400, 120)
    layer = GeneratorDropout(0.3, torch.Generator().manual_seed(5))
    dropped = layer(x)
    values = dropped.unique()
    assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / 0.7)
    assert abs((dropped == 0).float().mean().item() - 0.3) < 0.02  # 48,000 draws
    again = GeneratorDropout(0.3, torch.Generator().manual_seed(5))(x)
    assert torch.equal(dropped, again) and not torch.equal(layer(x), dropped)  # the generator's, and it moves on
    layer.eval()
    assert torch.equal(layer(x), x)
    model = build_model("LeNet5")
    model.dropout = GeneratorDropout(0.5, torch.Generator().manual_seed(0))
    assert list(model.state_dict()) == list(build_model("LeNet5").state_dict())  # no weights of its own
    with pytest.raises(ConfigError, match="dropout is LeNet-5's"):
        __import__("mnistlib").RunConfig(model="CustomMLP_6", dropout=0.2)

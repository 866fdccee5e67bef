"""Models against the seed's parameter counts, the paper's C3 table, and a dense reference."""
import pytest
import torch
import torch.nn.functional as F

from mnistlib import C3_TABLE, MODELS, ConfigError, CustomMLP, LeNet5, build_model, count_parameters, \
    parameter_table, predict_proba
from mnistlib.models import SparseConv2d, resolve_model_name


@pytest.mark.parametrize("name", list(MODELS))
def test_parameter_count_matches_the_seed(name):
    model = build_model(name)
    assert sum(p.numel() for p in model.parameters()) == MODELS[name].seed_parameters
    assert parameter_table(model).parameters.iloc[-1] == MODELS[name].seed_parameters


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


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_lenet_activation_variants(activation):
    model = LeNet5(activation)
    assert type(model.s2[1]).__name__.lower() == activation
    assert count_parameters(model) == 60806


@pytest.mark.parametrize("shape", [(64, 6, 28, 28), (8, 16, 10, 10), (3, 2, 6, 4)])
def test_fast_max_pool_equals_max_pool2d_values_and_gradients(shape):
    from mnistlib.models import MaxPool2x2

    torch.manual_seed(0)
    x = torch.randn(shape)
    x[:, :, :2, :] = 0.25  # whole windows of ties, as C1 gives over the padding
    x[..., 2:4, 2:4] = x[..., 2:4, 2:4].round()  # partial ties
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    grad = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2)
    expected = F.max_pool2d(a, 2, 2)
    expected.backward(grad)
    got = MaxPool2x2()(b)
    got.backward(grad)
    assert torch.equal(got, expected) and torch.equal(b.grad, a.grad)


def test_lenet_history_unchanged_by_the_fast_pool(mnist):
    """Ten SGD steps with MaxPool2x2 land on exactly the weights nn.MaxPool2d gives."""
    from mnistlib import prepare

    data = prepare(mnist, train_subset=640, test_subset=10)
    models = []
    for pool in ("fast", "torch"):
        torch.manual_seed(0)
        model = LeNet5()
        if pool == "torch":
            model.s2[0], model.s4[0] = torch.nn.MaxPool2d(2, 2), torch.nn.MaxPool2d(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        for start in range(0, 640, 64):
            optimizer.zero_grad()
            F.cross_entropy(model(data.x_train[start:start + 64]), data.y_train[start:start + 64]).backward()
            optimizer.step()
        models.append(model)
    assert all(torch.equal(p, q) for p, q in zip(models[0].parameters(), models[1].parameters()))

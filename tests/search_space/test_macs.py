from torch import nn

from aebnas.search_space.macs import count_macs, path_costs
from aebnas.search_space import Architecture, ExitSpec
from aebnas.search_space.layers import Conv


def test_conv_hand_count():
    # 16 out x 8 in x 3 x 3 per output pixel, 10 x 10 outputs
    assert count_macs(nn.Conv2d(8, 16, 3, padding=1, bias=False), (8, 10, 10)) == 16 * 8 * 9 * 100


def test_strided_conv_and_bias_free_count():
    # stride 2 on 9x9 with padding 1 -> 5x5 outputs
    assert count_macs(nn.Conv2d(4, 6, 3, stride=2, padding=1), (4, 9, 9)) == 6 * 4 * 9 * 25


def test_depthwise_conv_hand_count():
    assert count_macs(nn.Conv2d(32, 32, 5, padding=2, groups=32), (32, 7, 7)) == 32 * 25 * 49


def test_linear_hand_count():
    assert count_macs(nn.Linear(64, 10), (64,)) == 640


def test_batchnorm_relu_and_pooling_are_not_counted():
    module = nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.MaxPool2d(2))
    assert count_macs(module, (4, 8, 8)) == 0


def test_tiny_early_exit_network_hand_count():
    # digits_cnn width 8 on 1x8x8: stage MACs 4608, 18432, 36864, 18432; head 32->10 = 320.
    arch = Architecture("digits_cnn", (ExitSpec(1, ()), ExitSpec(3, (Conv(kernel=1),))), {"width": 8})
    costs = path_costs(arch, (1, 8, 8), 10)
    assert costs.stages == (4608, 18432, 36864, 18432)
    assert costs.branches == (80, 16 * 16 * 16 + 160)
    assert costs.head == 320
    assert costs.paths == (4608 + 80, 4608 + 18432 + 36864 + 80 + 4256, 4608 + 18432 + 36864 + 18432 + 80 + 4256 + 320)

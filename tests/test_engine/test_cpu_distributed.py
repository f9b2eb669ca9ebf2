"""Process-group teardown at the end of tools/train.py and tools/test.py."""
import torch.distributed as torch_dist

from mmcyclic.engine.cpu_distributed import shut_down_distributed

from cyclic_test_utils import free_port


def test_shut_down_is_a_no_op_without_a_process_group():
    assert not torch_dist.is_initialized()
    shut_down_distributed()
    assert not torch_dist.is_initialized()


def test_shut_down_destroys_the_process_group():
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{free_port()}',
                                  rank=0, world_size=1)
    try:
        shut_down_distributed()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()

"""vitgan_tf.machine: the CPU as /proc/cpuinfo describes it."""

from unittest import mock

from tests.test_case import TestCase
from vitgan_tf import machine

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu avx2 avx512f

processor\t: 1
model name\t: Another CPU
flags\t\t: avx512_bf16
"""


class MachineTest(TestCase):
    def test_signature_of_the_first_processor(self):
        with mock.patch("builtins.open", mock.mock_open(read_data=CPUINFO)):
            self.assertEqual(machine.cpu_signature(),
                             "AMD EPYC 7B13 (family 25, model 1, avx512_bf16 no)")
            self.assertEqual(machine.cpu_model(), "AMD EPYC 7B13")
            self.assertFalse(machine.has_avx512_bf16())
        bf16 = CPUINFO.replace("avx2 avx512f", "avx2 avx512f avx512_bf16")
        with mock.patch("builtins.open", mock.mock_open(read_data=bf16)):
            self.assertTrue(machine.has_avx512_bf16())
            self.assertTrue(machine.cpu_signature().endswith("avx512_bf16 yes)"))

    def test_unreadable_cpuinfo(self):
        with mock.patch("builtins.open", side_effect=OSError("no /proc")):
            self.assertEqual(machine.cpu_fields(), {})
            self.assertIn("(family ?, model ?, avx512_bf16 no)", machine.cpu_signature())

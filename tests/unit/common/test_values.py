# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Counts and seconds as an operator writes them: what is taken, what not."""

import math

from hypothesis import given
from hypothesis import strategies as st

from nova_gpu_ext.common import values
from tests import base as test_base


class TestCount(test_base.TestCase):

    @given(st.integers(min_value=1, max_value=values.MAX_COUNT))
    def test_ascii_digits_in_range_are_the_number(self, number):
        self.assertEqual(number, values.count(str(number)))
        self.assertEqual(number, values.count(f' 00{number} '))

    @given(st.text())
    def test_anything_else_is_a_value_error_or_an_ascii_count(self, text):
        try:
            number = values.count(text)
        except ValueError as exc:
            self.assertLessEqual(len(str(exc)), 120)
            return
        self.assertTrue(text.strip().isascii())
        self.assertTrue(1 <= number <= values.MAX_COUNT)

    def test_unicode_digits_are_refused(self):
        for text in ('²', '٣', '٣٣٣٣', '1²', '１'):
            self.assertRaises(ValueError, values.count, text)

    def test_ten_thousand_digits_are_refused_quickly_and_shortly(self):
        exc = self.assertRaises(ValueError, values.count, '9' * 10000)
        self.assertEqual(f"'{'9' * 40}...' is not from 1 to 100000",
                         str(exc))

    def test_bounds_are_the_callers(self):
        self.assertEqual(0, values.count('0', minimum=0, maximum=65535))
        self.assertRaises(ValueError, values.count, '65536', minimum=0,
                          maximum=65535)
        self.assertRaises(ValueError, values.count, '0')


class TestSeconds(test_base.TestCase):

    @given(st.floats(min_value=1e-6, max_value=1e9))
    def test_finite_positive_numbers_are_taken(self, number):
        self.assertEqual(number, values.seconds(repr(number)))

    def test_nan_inf_zero_negative_and_unicode_are_refused(self):
        for text in ('nan', 'inf', '-inf', '0', '-1', '', 'soon', '٣',
                     '1e999'):
            self.assertRaises(ValueError, values.seconds, text)
        self.assertFalse(math.isnan(values.seconds('0.5')))

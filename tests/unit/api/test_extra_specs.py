"""nova's own extra-spec validation sees our ``gpu:`` validators."""

from nova.api.validation.extra_specs import validators
from nova import exception
from nova import test


class TestGpuExtraSpecs(test.NoDBTestCase):

    def test_valid_values_are_accepted(self):
        for name, value in [('gpu:numa', 'single'), ('gpu:numa', 'prefer'),
                            ('gpu:numa', 'any'), ('gpu:same_model', 'true'),
                            ('gpu:same_model', 'False')]:
            validators.validate(name, value)

    def test_bad_numa_is_refused(self):
        exc = self.assertRaises(exception.ValidationError,
                                validators.validate, 'gpu:numa', 'sideways')
        self.assertIn('any, prefer, single', str(exc))

    def test_bad_same_model_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:same_model', 'perhaps')

    def test_unknown_gpu_key_is_refused(self):
        self.assertRaises(exception.ValidationError, validators.validate,
                          'gpu:samemodel', 'true')

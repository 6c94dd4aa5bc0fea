from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import desk, in_force, three_days  # noqa: F401  (fixtures)
from tests.reviews.dataset import november  # noqa: F401  (fixture)

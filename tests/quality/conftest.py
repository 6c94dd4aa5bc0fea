from tests.documents.conftest import NOW, birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)

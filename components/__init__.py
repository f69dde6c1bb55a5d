"""istiolab's Pulumi components: clusters, the Istio mesh, sample apps, addons, security and
load generators. Each module holds one ComponentResource (type `istiolab:index:<Name>`) and its
`<Name>Args` dataclass; `__main__.py` composes them from the validated stack config.

Importing this package creates nothing and reaches no network.
"""

from components.bookinfo import Bookinfo, BookinfoArgs
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.fortio_client import FortioClient, FortioClientArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.k0s_cluster import K0sCluster, K0sClusterArgs
from components.kind_cluster import KindCluster, KindClusterArgs
from components.mesh_security import MeshSecurity, MeshSecurityArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from components.observability import Observability, ObservabilityArgs
from components.samples import Samples, SamplesArgs

__all__ = [
    "Bookinfo",
    "BookinfoArgs",
    "ExistingCluster",
    "ExistingClusterArgs",
    "FortioClient",
    "FortioClientArgs",
    "IstioMesh",
    "IstioMeshArgs",
    "K0sCluster",
    "K0sClusterArgs",
    "KindCluster",
    "KindClusterArgs",
    "MeshSecurity",
    "MeshSecurityArgs",
    "MinikubeCluster",
    "MinikubeClusterArgs",
    "Observability",
    "ObservabilityArgs",
    "Samples",
    "SamplesArgs",
]

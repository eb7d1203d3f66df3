"""The stages of a study and the files they leave in the run folder.

Each notebook calls one stage; a stage loads what the stages before it wrote into the
run folder, computes, and writes its own results there (through
:class:`seglab.runfolder.RunFolder`), returning them for display. A stage whose input
is missing runs the stages before it with default parameters, so any notebook also runs
on its own (in JupyterLab or under nbval) on the embedded synthetic data.

==========  ============================  ===========
notebook    stage                         module
==========  ============================  ===========
(run)       :func:`stage_inputs`          ``staging``
01          :func:`clean_stage`           ``clean``
02          :func:`feature_stage`         ``features``
03          :func:`cluster_stage`         ``cluster``
04          :func:`profit_stage`          ``profit``
05          :func:`dynamics_stage`        ``dynamics``
06          :func:`products_stage`        ``products``
07          :func:`campaigns_stage`       ``campaigns``
==========  ============================  ===========
"""

from seglab.study.campaigns import CampaignStage, campaigns_stage
from seglab.study.clean import clean_stage
from seglab.study.cluster import ClusterStage, cluster_stage
from seglab.study.common import (
    customer_table,
    export_customers_csv,
    record_metrics,
    write_customers,
    write_parquet,
)
from seglab.study.dynamics import DynamicsStage, dynamics_stage
from seglab.study.features import FeatureStage, feature_stage
from seglab.study.products import ProductsStage, products_stage
from seglab.study.profit import ProfitStage, profit_stage
from seglab.study.staging import (
    StudyInputs,
    check_engine,
    load_inputs,
    report_language,
    stage_inputs,
)

__all__ = [
    "CampaignStage", "ClusterStage", "DynamicsStage", "FeatureStage", "ProductsStage",
    "ProfitStage", "StudyInputs", "campaigns_stage", "check_engine", "clean_stage",
    "cluster_stage", "customer_table", "dynamics_stage", "export_customers_csv",
    "feature_stage", "load_inputs", "products_stage", "profit_stage", "record_metrics",
    "report_language", "stage_inputs", "write_customers", "write_parquet",
]

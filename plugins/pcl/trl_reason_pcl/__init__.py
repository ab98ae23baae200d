"""trl-reasoning plugin ``pcl``: Prompt Curriculum Learning (arXiv 2510.01135). See ``trl_reason_pcl.plugin``."""

"""Packaging for vqmap_nb: every field is read from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

licenses = {"apache2": ("Apache Software License 2.0", "OSI Approved :: Apache Software License")}
statuses = ["1 - Planning", "2 - Pre-Alpha", "3 - Alpha", "4 - Beta", "5 - Production/Stable"]
lic = licenses[cfg["license"]]
requirements = cfg.get("requirements", "").split()
dev_requirements = cfg.get("dev_requirements", "").split()
extras = {
    "io": ["movement==0.15.0; python_version<'3.12'", "movement>=0.15; python_version>='3.12'", "xarray"],
    "umap": ["umap-learn"],
    "widgets": ["ipywidgets>=8", "k3d>=2.16"],           # the motif browser and 3D viewer in notebooks
    "movies": ["imageio>=2.28", "imageio-ffmpeg>=0.4.8"],   # grid movies as mp4 (GIF without them)
    "export": ["pyarrow>=12", "pynwb>=2.5", "ndx-pose>=0.2"],  # Parquet and NWB (ndx-pose) exports
    "baselines": ["umap-learn", "PyWavelets"],           # benchmarks/real.py's spectrogram-UMAP baseline
    "dev": dev_requirements,
}
extras["all"] = sorted({r for v in extras.values() for r in v})

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    license=lic[0],
    classifiers=[
        "Development Status :: " + statuses[int(cfg["status"])],
        "Intended Audience :: " + cfg["audience"],
        "License :: " + lic[1],
        "Natural Language :: " + cfg["language"],
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Bio-Informatics",
    ],
    url=cfg["git_url"],
    packages=setuptools.find_packages(include=["vqmap_nb", "vqmap_nb.*"]),
    include_package_data=True,
    package_data={"vqmap_nb": ["configs/*/*.yaml"]},
    install_requires=requirements,
    extras_require=extras,
    python_requires=">=" + cfg["min_python"],
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    zip_safe=False,
    entry_points={"console_scripts": cfg.get("console_scripts", "").split(), "nbdev": [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
)

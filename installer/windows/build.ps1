<#
.SYNOPSIS
  Build MedTL's Windows installer: dist\medtl-<version>-windows-x64[-cuda]-setup.exe

.DESCRIPTION
  Run on a Windows x64 build machine with Python 3.11 and Inno Setup 6 (ISCC.exe), from a clone:

    powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 `
        [-Edition cpu|cuda] [-WeightsFrom D:\weights] [-VcRedist C:\redist\vc_redist.x64.exe]

  Steps (the same as installer/build_linux.sh):
    1. build venv build\installer-<edition>\venv: torch for the edition (CPU wheels from
       https://download.pytorch.org/whl/cpu, CUDA ones from -TorchIndex), MedTL and PyInstaller
    2. bundled data: edition.json, codec samples, the weights in installer\weights.txt copied
       from -WeightsFrom (verified), icons
    3. PyInstaller with installer\medtl.spec (one folder: medtl-gui.exe, medtl.exe)
    4. self-test of the frozen build (medtl.exe self-test, offscreen)
    5. ISCC.exe installer\windows\medtl.iss -> dist\
  The Visual C++ runtime installer is bundled, never downloaded at install time: pass
  -VcRedist, or put it at installer\windows\redist\vc_redist.x64.exe (git-ignored; from
  https://aka.ms/vs/17/release/vc_redist.x64.exe on a connected machine).
  Not run by MedTL's CI: there is no Windows machine there.
#>
param(
    [ValidateSet("cpu", "cuda")] [string] $Edition = "cpu",
    [string] $WeightsFrom = "",
    [string] $WeightsList = "",
    [string] $VcRedist = "",
    [string] $Python = "py",
    [string] $TorchIndex = "",
    [string] $Iscc = "",
    [switch] $NoSelfTest
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Start = Get-Date
function Step($text) { Write-Host "[build $(Get-Date -Format HH:mm:ss)] $text" }
function Run($exe, [string[]] $arguments) {
    & $exe @arguments
    if ($LASTEXITCODE -ne 0) { throw "$exe $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Version = (Select-String -Path "$Root\medtl_gui\__init__.py" -Pattern '^__version__ = "(.*)"').Matches[0].Groups[1].Value
$Build = "$Root\build\installer-$Edition"
$Venv = "$Build\venv"
$Py = "$Venv\Scripts\python.exe"
$Data = "$Build\medtl_data"
if (-not $WeightsList) { $WeightsList = "$Root\installer\weights.txt" }
if (-not $VcRedist) { $VcRedist = "$Root\installer\windows\redist\vc_redist.x64.exe" }
if (-not (Test-Path $VcRedist)) { throw "vc_redist.x64.exe not found at $VcRedist (pass -VcRedist PATH)" }
if (-not $Iscc) {
    $Iscc = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
              "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe") | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $Iscc) { throw "Inno Setup 6 (ISCC.exe) not found; install it or pass -Iscc PATH" }
}
New-Item -ItemType Directory -Force -Path $Build, "$Root\dist" | Out-Null

# 1. build venv -------------------------------------------------------------------------------
if (-not (Test-Path $Py)) {
    Step "creating build venv $Venv"
    if ($Python -eq "py") { Run "py" @("-3.11", "-m", "venv", $Venv) } else { Run $Python @("-m", "venv", $Venv) }
}
Step "installing torch ($Edition edition), MedTL and PyInstaller"
if ($Edition -eq "cpu") {
    if (-not $TorchIndex) { $TorchIndex = "https://download.pytorch.org/whl/cpu" }
    Run $Py @("-m", "pip", "install", "--quiet", "--index-url", $TorchIndex, "torch==2.14.1", "torchvision==0.29.1")
} else {
    if (-not $TorchIndex) { $TorchIndex = "https://download.pytorch.org/whl/cu130" }
    Run $Py @("-m", "pip", "install", "--quiet", "--index-url", $TorchIndex, "torch==2.14.1", "torchvision==0.29.1")
}
Run $Py @("-m", "pip", "install", "--quiet", "$Root[installer]")
$cudaBuild = & $Py -c "import torch; print(torch.version.cuda is not None)"
if (($Edition -eq "cpu") -ne ($cudaBuild -eq "False")) { throw "torch in the build venv does not fit the $Edition edition" }

# 2. bundled data -----------------------------------------------------------------------------
Step "writing bundled data into $Data"
if (Test-Path $Data) { Remove-Item -Recurse -Force $Data }
New-Item -ItemType Directory -Force -Path $Data | Out-Null
Push-Location $Build
try {
    Run $Py @("-m", "medtl_gui.selftest.samples", "$Data\samples", "--strict")
    if ($WeightsFrom) {
        Run $Py @("$Root\installer\bundle_weights.py", "--list", $WeightsList, "--from", $WeightsFrom, "--to", "$Data\weights")
    } else {
        Step "no -WeightsFrom: the build bundles no pretrained weights"
    }
} finally { Pop-Location }
$torchVersion = & $Py -c "import torch; print(torch.__version__)"
@{ edition = $Edition; version = $Version; torch = $torchVersion; built = (Get-Date).ToUniversalTime().ToString("s") + "+00:00" } |
    ConvertTo-Json | Set-Content -Encoding UTF8 "$Data\edition.json"
Run $Py @("$Root\installer\render_icon.py", "$Root\resources\medtl.svg", "$Root\build\icons")

# 3. freeze -----------------------------------------------------------------------------------
Step "running PyInstaller (several minutes)"
$env:MEDTL_EDITION = $Edition
$env:MEDTL_BUNDLE_DATA = $Data
Push-Location $Root
try {
    Run $Py @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", "$Build\dist",
              "--workpath", "$Build\work", "installer\medtl.spec")
} finally { Pop-Location }

# 4. self-test of the frozen build (console executable: its report shows here) ----------------
if (-not $NoSelfTest) {
    Step "self-test of the frozen build"
    $env:QT_QPA_PLATFORM = "offscreen"
    & "$Build\dist\medtl\medtl.exe" self-test
    $selfTest = $LASTEXITCODE
    Remove-Item Env:QT_QPA_PLATFORM
    if ($selfTest -ne 0) { throw "the frozen build failed its self-test" }
}

# 5. installer --------------------------------------------------------------------------------
Step "compiling the installer with $Iscc"
Run $Iscc @("/Qp", "/DAppVersion=$Version", "/DEdition=$Edition", "/DSourceDir=$Build\dist\medtl",
            "/DVcRedist=$VcRedist", "/O$Root\dist", "$Root\installer\windows\medtl.iss")
$suffix = if ($Edition -eq "cuda") { "-cuda" } else { "" }
$setup = Get-ChildItem "$Root\dist\medtl-$Version-windows-x64$suffix-setup*.exe" | Select-Object -First 1
$unpackedMb = [math]::Round((Get-ChildItem -Recurse "$Build\dist\medtl" | Measure-Object Length -Sum).Sum / 1MB)
$setupMb = [math]::Round($setup.Length / 1MB)
$buildS = [math]::Round(((Get-Date) - $Start).TotalSeconds)
Write-Host "build: $buildS s, unpacked: $unpackedMb MB, installer: $setupMb MB ($($setup.FullName))"
Write-Host "{`"edition`": `"$Edition`", `"build_s`": $buildS, `"unpacked_mb`": $unpackedMb, `"installer_mb`": $setupMb}"

; Inno Setup 6 script: MedTL for Windows x64, offline installer.
; Compiled by installer\windows\build.ps1 (ISCC.exe needs Windows), which passes:
;   /DAppVersion=0.1.0  /DEdition=cpu|cuda  /DSourceDir=<PyInstaller one-folder build>  /DVcRedist=<vc_redist.x64.exe>
;
; - Per-user install by default (no administrator rights, %LOCALAPPDATA%\Programs\MedTL);
;   the first page offers "install for all users" (Program Files, needs elevation).
; - Start-menu entry, optional desktop icon, uninstaller (Apps & features).
; - *.medtl files open in MedTL (opening one opens the project folder it lies in).
; - The Microsoft Visual C++ 2015-2022 runtime (needed by Python, Qt and torch) is bundled
;   and installed silently when it is missing; nothing is downloaded. The runtime installer
;   itself needs administrator rights: in a per-user install Windows asks for them once
;   (UAC), only when the runtime is missing (IT usually has it on every workstation).
; - Projects, settings and the weight store live in the user's folders and survive
;   uninstalling (weights: %LOCALAPPDATA%\MedTL\MedTL\weights, ...).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Edition
  #define Edition "cpu"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\build\installer-" + Edition + "\dist\medtl"
#endif
#ifndef VcRedist
  #define VcRedist "redist\vc_redist.x64.exe"
#endif
#if Edition == "cuda"
  #define EditionSuffix "-cuda"
#else
  #define EditionSuffix ""
#endif

[Setup]
AppId={{6F0B6C2E-3B7D-4C55-9E0A-4D1E2B7A9C31}
AppName=MedTL
AppVersion={#AppVersion}
AppVerName=MedTL {#AppVersion} ({#Edition} edition)
AppPublisher=MedTL
DefaultDirName={autopf}\MedTL
DefaultGroupName=MedTL
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
UninstallDisplayIcon={app}\medtl-gui.exe
UninstallDisplayName=MedTL {#AppVersion}
OutputBaseFilename=medtl-{#AppVersion}-windows-x64{#EditionSuffix}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
MinVersion=10.0
#if Edition == "cuda"
; the CUDA libraries make the payload larger than one setup file should hold
DiskSpanning=yes
DiskSliceSize=max
#endif

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#VcRedist}"; DestDir: "{tmp}"; DestName: "vc_redist.x64.exe"; Flags: deleteafterinstall; Check: VCRedistNeedsInstall

[Icons]
Name: "{autoprograms}\MedTL"; Filename: "{app}\medtl-gui.exe"; Comment: "Label medical scans and fine-tune CNNs offline"
Name: "{autoprograms}\MedTL self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\medtl.exe"" self-test"; IconFilename: "{app}\medtl-gui.exe"
Name: "{autodesktop}\MedTL"; Filename: "{app}\medtl-gui.exe"; Tasks: desktopicon

[Registry]
; HKA = HKLM for an all-users install, HKCU for a per-user one
Root: HKA; Subkey: "Software\Classes\.medtl"; ValueType: string; ValueName: ""; ValueData: "MedTL.Project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\MedTL.Project"; ValueType: string; ValueName: ""; ValueData: "MedTL project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\MedTL.Project\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: """{app}\medtl-gui.exe"",0"
Root: HKA; Subkey: "Software\Classes\MedTL.Project\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\medtl-gui.exe"" ""%1"""

[Run]
Filename: "{tmp}\vc_redist.x64.exe"; Parameters: "/install /quiet /norestart"; StatusMsg: "Installing the Microsoft Visual C++ runtime..."; Flags: waituntilterminated; Check: VCRedistNeedsInstall
Filename: "{app}\medtl-gui.exe"; Description: "{cm:LaunchProgram,MedTL}"; Flags: nowait postinstall skipifsilent

[Code]
{ The VC++ 2015-2022 x64 runtime is present when this key says Installed=1 (any 14.x build). }
function VCRedistNeedsInstall: Boolean;
var
  Installed: Cardinal;
begin
  Result := not (RegQueryDWordValue(HKLM64, 'SOFTWARE\Microsoft\VisualStudio\14.0\VC\Runtimes\x64', 'Installed', Installed)
                 and (Installed = 1));
end;

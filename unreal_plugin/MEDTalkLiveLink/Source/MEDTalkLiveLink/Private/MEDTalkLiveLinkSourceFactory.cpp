// MEDTalk Live Link source factory and its creation panel (UDP port, listen address, optional subject).
#include "MEDTalkLiveLinkSourceFactory.h"

#include "MEDTalkLiveLinkSource.h"
#include "Widgets/Input/SButton.h"
#include "Widgets/Input/SEditableTextBox.h"
#include "Widgets/Input/SNumericEntryBox.h"
#include "Widgets/SBoxPanel.h"
#include "Widgets/SCompoundWidget.h"
#include "Widgets/Text/STextBlock.h"

#define LOCTEXT_NAMESPACE "MEDTalkLiveLinkSourceFactory"

namespace MEDTalkLiveLinkUI
{
	class SCreationPanel : public SCompoundWidget
	{
	public:
		SLATE_BEGIN_ARGS(SCreationPanel) {}
		SLATE_END_ARGS()

		void Construct(const FArguments& InArgs, ULiveLinkSourceFactory::FOnLiveLinkSourceCreated InOnSourceCreated)
		{
			OnSourceCreated = InOnSourceCreated;
			ChildSlot
			[
				SNew(SVerticalBox)
				+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
				[
					SNew(SHorizontalBox)
					+ SHorizontalBox::Slot().FillWidth(0.4f).VAlign(VAlign_Center)
					[
						SNew(STextBlock).Text(LOCTEXT("PortLabel", "UDP port"))
					]
					+ SHorizontalBox::Slot().FillWidth(0.6f)
					[
						SNew(SNumericEntryBox<int32>)
						.MinValue(1)
						.MaxValue(65535)
						.Value(this, &SCreationPanel::GetPort)
						.OnValueChanged(this, &SCreationPanel::SetPort)
						.OnValueCommitted(this, &SCreationPanel::CommitPort)
					]
				]
				+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
				[
					SNew(SHorizontalBox)
					+ SHorizontalBox::Slot().FillWidth(0.4f).VAlign(VAlign_Center)
					[
						SNew(STextBlock).Text(LOCTEXT("BindLabel", "Listen on"))
						.ToolTipText(LOCTEXT("BindTip", "0.0.0.0: every network interface; 127.0.0.1: this machine only"))
					]
					+ SHorizontalBox::Slot().FillWidth(0.6f)
					[
						SNew(SEditableTextBox)
						.Text(FText::FromString(Settings.BindAddress))
						.OnTextChanged(this, &SCreationPanel::SetBindAddress)
					]
				]
				+ SVerticalBox::Slot().AutoHeight().Padding(4.0f)
				[
					SNew(SHorizontalBox)
					+ SHorizontalBox::Slot().FillWidth(0.4f).VAlign(VAlign_Center)
					[
						SNew(STextBlock).Text(LOCTEXT("SubjectLabel", "Only subject"))
						.ToolTipText(LOCTEXT("SubjectTip", "Leave empty to publish every daemon subject that arrives on this port"))
					]
					+ SHorizontalBox::Slot().FillWidth(0.6f)
					[
						SNew(SEditableTextBox)
						.HintText(LOCTEXT("SubjectHint", "(every subject)"))
						.OnTextChanged(this, &SCreationPanel::SetSubject)
					]
				]
				+ SVerticalBox::Slot().AutoHeight().Padding(4.0f).HAlign(HAlign_Right)
				[
					SNew(SButton)
					.IsEnabled(this, &SCreationPanel::CanCreate)
					.OnClicked(this, &SCreationPanel::Create)
					[
						SNew(STextBlock).Text(LOCTEXT("AddButton", "Add"))
					]
				]
			];
		}

	private:
		TOptional<int32> GetPort() const { return static_cast<int32>(Settings.Port); }
		void SetPort(int32 Value) { Settings.Port = static_cast<uint16>(FMath::Clamp(Value, 1, 65535)); }
		void CommitPort(int32 Value, ETextCommit::Type) { SetPort(Value); }
		void SetSubject(const FText& Text) { Settings.Subject = Text.ToString().TrimStartAndEnd(); }
		void SetBindAddress(const FText& Text) { Settings.BindAddress = Text.ToString().TrimStartAndEnd(); }
		bool CanCreate() const { return Settings.IsValid(); }

		FReply Create()
		{
			TSharedPtr<ILiveLinkSource> Source = MakeShared<FMEDTalkLiveLinkSource>(Settings);
			OnSourceCreated.ExecuteIfBound(Source, Settings.ToConnectionString());
			return FReply::Handled();
		}

		FMEDTalkLiveLinkSettings Settings;
		ULiveLinkSourceFactory::FOnLiveLinkSourceCreated OnSourceCreated;
	};
}

FText UMEDTalkLiveLinkSourceFactory::GetSourceDisplayName() const
{
	return LOCTEXT("SourceDisplayName", "MEDTalk Bridge");
}

FText UMEDTalkLiveLinkSourceFactory::GetSourceTooltip() const
{
	return LOCTEXT("SourceTooltip", "Receives speech-driven face curves from the MEDTalk Bridge daemon (OSC over UDP).");
}

TSharedPtr<SWidget> UMEDTalkLiveLinkSourceFactory::BuildCreationPanel(FOnLiveLinkSourceCreated OnLiveLinkSourceCreated) const
{
	return SNew(MEDTalkLiveLinkUI::SCreationPanel, OnLiveLinkSourceCreated);
}

TSharedPtr<ILiveLinkSource> UMEDTalkLiveLinkSourceFactory::CreateSource(const FString& ConnectionString) const
{
	FMEDTalkLiveLinkSettings Settings;
	if (!FMEDTalkLiveLinkSettings::FromConnectionString(ConnectionString, Settings))
	{
		return TSharedPtr<ILiveLinkSource>();
	}
	return MakeShared<FMEDTalkLiveLinkSource>(Settings);
}

#undef LOCTEXT_NAMESPACE
